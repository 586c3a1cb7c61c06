"""A fully connected autoencoder, as a researcher's own package: ablate knows nothing of it.

Its YAML file (conf/model/fcae.yaml) names the class by `_target_`; ablate builds it with the
file's keyword arguments plus the three it supplies (in_channels, out_channels, input_size) and
checks the file's keys against this constructor's signature, as there is no schema for it.
"""

from fcae.model import FCAutoencoder

__all__ = ["FCAutoencoder"]
