"""The tipline: reports of suspected online child sexual exploitation, from intake to release."""
