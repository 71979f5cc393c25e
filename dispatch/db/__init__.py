"""SQL persistence for the dispatch core: engines, schema, migrations, spatial history queries."""
