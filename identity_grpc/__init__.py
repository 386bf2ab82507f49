"""Identity service for cloud platforms: users, projects, roles, tokens, catalog."""
