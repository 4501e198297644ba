"""Every notebook opens ready to run: its `kernelspec` names an installed kernel, which starts and imports the
package, as JupyterLab does when it opens the notebook (no "Select Kernel" dialog). Exit status 1 otherwise."""
import json, sys
from pathlib import Path
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import start_new_kernel

root = Path(__file__).resolve().parents[1]
specs, problems, names = KernelSpecManager(), [], set()
for nb in sorted((root / 'nbs').glob('*.ipynb')):
    spec = json.loads(nb.read_text())['metadata'].get('kernelspec', {})
    if not spec.get('name'):
        problems.append(f"{nb.name}: no kernelspec in its metadata (JupyterLab would ask for a kernel)"); continue
    try: specs.get_kernel_spec(spec['name']); names.add(spec['name'])
    except NoSuchKernel: problems.append(f"{nb.name}: kernel {spec['name']!r} is not installed "
                                         "(python -m ipykernel install --user)")
for name in sorted(names):  # start each named kernel once, in the notebooks' folder, and import the package
    km, kc = start_new_kernel(kernel_name=name, cwd=str(root / 'nbs'))
    try:
        reply = kc.execute_interactive('import brats_nbdev; print(brats_nbdev.__version__)', timeout=120,
                                       output_hook=lambda msg: None)
        if reply['content']['status'] != 'ok': problems.append(f"kernel {name!r}: importing brats_nbdev failed")
    finally: kc.stop_channels(); km.shutdown_kernel(now=True)
print('\n'.join(problems) or f"every notebook names an installed kernel ({', '.join(sorted(names))}) that starts")
sys.exit(1 if problems else 0)
