"""Users: the directory of people we may write to (email address, name), per tenant."""
