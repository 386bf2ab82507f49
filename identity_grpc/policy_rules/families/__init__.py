"""One module per API family, each with its rules in both profiles (`KEYSTONE`, `SCOPED`)."""
