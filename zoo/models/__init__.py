"""Model families. Importing this package registers every model type."""
from zoo.models import lstm  # noqa: F401  (registers 'lstm')
from zoo.models import lstmprovisor  # noqa: F401  (registers 'simple', 'poex')
from zoo.models import compae  # noqa: F401  (registers 'compae')
from zoo.models import musicvae  # noqa: F401  (registers 'musicvae')
from zoo.models import transformer  # noqa: F401  (registers 'transformer')
from zoo.models import crossmodal  # noqa: F401  (registers 'crossmodal')
from zoo.models import gan  # noqa: F401  (registers 'gan')
from zoo.models import multinn  # noqa: F401  (registers 'multinn')
from zoo.models import rnn_piano  # noqa: F401  (registers 'rnn_nade', 'rnn_rbm')
from zoo.models.registry import ModelType, get_model_type, model_type_names, register_model_type

__all__ = ["ModelType", "get_model_type", "model_type_names", "register_model_type"]
