"""HR reports (docs/people.md#reports): a read model of goal and feedback events, grouped by the
org chart the people service owns.

``facts`` holds the stored facts and what the projection makes of each event, ``aggregate``
the pure report arithmetic, ``repository`` the store, ``projection`` the subscription and
``api`` the routes.
"""
