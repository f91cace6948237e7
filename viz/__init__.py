"""The Streamlit monitor: reads the lake's Delta tables without a JVM and charts them.

reads.py    reading a table as pandas (delta-rs), an empty frame when it is not there yet
data.py     what the pages show, computed from those frames (pure)
charts.py   DataFrame -> Plotly figure (pure)
pages.py    the Streamlit pages
app.py      the entry point `streamlit run` executes
serve.py    serving app.py as a child process (`segstream monitor` runs it)
"""
