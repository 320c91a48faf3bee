"""Discussion Hub: the Chalice app. It only wires blueprints and event handlers; the logic lives in chalicelib/."""
from chalice import Chalice

from chalicelib.discussions.routes import blueprint as discussions
from chalicelib.mail.routes import blueprint as mail
from chalicelib.tracking.routes import blueprint as tracking

app = Chalice(app_name="discussion-hub")
# The pixel is binary only where the Accept header asks for an image (NOTES.md); JSON routes stay as they are.
app.api.binary_types.append("image/*")
app.register_blueprint(discussions)
app.register_blueprint(mail)
app.register_blueprint(tracking)
