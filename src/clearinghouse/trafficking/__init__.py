"""Child sex trafficking: reports relating to trafficking, and recovery-service engagements."""
