"""Stations, fleet and hospitals as data; coverage analysis and station siting for planners."""
