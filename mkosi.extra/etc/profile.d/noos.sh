# Models come with the image; nothing is fetched from a model hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
