"""The one-stop institution hub: orders to banks, payment companies and operators."""
