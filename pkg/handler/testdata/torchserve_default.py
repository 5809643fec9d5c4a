"""TorchServe's BaseHandler as it is: the body as the first input, the first output's rows."""
from ts.torch_handler.base_handler import BaseHandler


class Plain(BaseHandler):
    pass
