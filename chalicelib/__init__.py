"""Discussion Hub: email discussions and a community board on Chalice, DynamoDB and SES."""
