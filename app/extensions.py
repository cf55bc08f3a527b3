"""Extensions, created unbound and initialised in create_app()."""

from app.api import LocatorApi
from app.database import Database

db = Database()
api = LocatorApi()
