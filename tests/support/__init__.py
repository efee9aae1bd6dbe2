"""Helpers and fixtures shared by test modules. Test modules import them from here, never
from another test module, and keep no copies of their own."""
