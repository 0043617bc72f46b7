"""One module per named method. Each module's ``make(problem, seed, **settings)`` builds the
method; its docstring cites the paper. A module that optimises several objectives sets
``MULTI_OBJECTIVE = True``. The registry finds the modules by name."""
