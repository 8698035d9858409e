"""The lean transport: DynamoDB's JSON protocol over pooled HTTP/1.1, signed with our own SigV4."""
