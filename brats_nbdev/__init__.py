__version__ = "0.1.0"

import warnings
# With the MONAI Deploy SDK installed (the deploy-app extra), `import monai` loads monai.deploy and so holoscan,
# which warns at import about an 8 MB stack though no holoscan app runs; the app (15_deploy_app) gets its 32 MB.
warnings.filterwarnings('ignore', message='Current stack size', category=RuntimeWarning)
