"""How good a map is: its faithfulness (the deletion curve) and how much of it lies on the structure (localisation)."""
