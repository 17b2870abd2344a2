"""The tools the deploy checks run: ``install.sh`` fetches them, ``locate`` finds them."""
