"""The event core: catalog, model, codec and query grammar. Pure: it imports no other part of Cellstream."""
