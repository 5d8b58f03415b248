"""The pure domain: statuses, transitions, money and errors. Standard library only."""
