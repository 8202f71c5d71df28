"""Knowledge base: articles in several languages, search that learns from use, suggestions."""
