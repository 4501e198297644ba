"Install brats_nbdev from settings.ini (nbdev 2 style, no pkg_resources)."
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
deploy_requirements = cfg.get('deploy_requirements', '').split()
deploy_app_requirements = cfg.get('deploy_app_requirements', '').split()
console_scripts = [s.strip() for s in cfg.get('console_scripts', '').split('\n') if s.strip()]

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license='MIT',
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    classifiers=['License :: OSI Approved :: MIT License', 'Programming Language :: Python :: 3',
                 'Topic :: Scientific/Engineering :: Medical Science Apps.'],
    packages=setuptools.find_packages(include=[cfg['lib_name'], cfg['lib_name'] + '.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'deploy': deploy_requirements,
                    'deploy-app': deploy_app_requirements},
    python_requires='>=' + cfg['min_python'],
    entry_points={'console_scripts': console_scripts, 'nbdev': [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"]},
    zip_safe=False,
)
