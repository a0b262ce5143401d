"""Where things happen: states and territories, law-enforcement and social-service agencies, location lookups."""
