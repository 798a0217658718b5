"""What the page shows, computed without Streamlit: each module is tested without a browser."""
