"""Extensions, created unbound and initialised in create_app()."""

from app.database import Database

db = Database()
