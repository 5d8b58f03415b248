"""Everything that talks to AWS or the outside world. Domain objects go in and come out."""
