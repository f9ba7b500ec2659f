"""One module per resource; each exposes `router(services) -> APIRouter`."""
