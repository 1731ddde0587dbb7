"""The trading engine: feeds -> books -> oracle/pricing -> strategies -> risk -> execution -> store."""
