"""One module per named method. Each module's ``make(space, max_epochs, seed, **settings)``
builds the method; its docstring cites the paper. The registry finds the modules by name."""
