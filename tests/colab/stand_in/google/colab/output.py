"""Stand-in for ``google.colab.output``: the real one shows a kernel port through Colab's proxy in an iframe."""


def serve_kernel_port_as_iframe(port, path="/", height=400, cache_in_notebook=False):
    from IPython.display import IFrame, display

    display(IFrame(f"http://127.0.0.1:{port}{path}", width="100%", height=height))
