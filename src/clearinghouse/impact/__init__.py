"""Impact reporting: metrics counted from the records, state sheets, national tables, the sheet reader."""
