"""Web: the FastAPI app, the websocket hub and the dispatcher, crew and planner pages."""
