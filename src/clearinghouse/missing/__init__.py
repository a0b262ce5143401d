"""Missing children: case intake and management, categories, risk and trafficking indicators."""
