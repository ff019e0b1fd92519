"""A stand-in for Colab's ``google.colab`` package, for ``make test-colab``.

The notebooks' setup cell takes the Colab path when this module is imported, as Colab's kernel imports the real
one at start-up. It has the parts of the real API the course calls: ``output.serve_kernel_port_as_iframe`` (the web
app in notebook 06) and ``files.upload`` (a learner's own song, never called in a headless run).
"""
