"""Professional education: registrations of law-enforcement and child-serving professionals."""
