"""Discussion Hub: the Chalice app. It only wires blueprints and event handlers; the logic lives in chalicelib/."""
from chalice import Chalice

from chalicelib.discussions.routes import blueprint as discussions

app = Chalice(app_name="discussion-hub")
app.register_blueprint(discussions)
