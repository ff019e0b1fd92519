"""Stand-in for ``google.colab.files``: uploads need Colab's front end, which a headless run does not have."""


def upload():
    raise RuntimeError("google.colab.files.upload needs Colab's front end (stand-in for make test-colab)")
