# The web and worker image for the full stack (docker-compose.yml). The sandbox image
# that runs candidates' code is a different, minimal one: sandbox/Dockerfile.
# BASE is python:3.11-slim where a registry answers (`docker-compose build`: pip installs
# from its index). Where none does, `make app-image` builds it on the sandbox's offline
# Debian base (sandbox/build_base.sh; its python3 is 3.11 too) with no network at all:
# the wheels are downloaded on the host into wheels/ and PIP_FLAGS points pip at them.
ARG BASE=python:3.11-slim
FROM ${BASE}
ARG PIP_FLAGS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Debian's python3 has no `python` command; the services' commands say `python`.
RUN command -v python >/dev/null || ln -s "$(command -v python3)" /usr/local/bin/python
COPY wheels /tmp/wheels
COPY pyproject.toml README.md ./
COPY config config
COPY quizbank quizbank
COPY accounts accounts
COPY learning learning
COPY interviews interviews
COPY grading grading
COPY sandbox sandbox
COPY lab lab
RUN python -m pip install --no-cache-dir --break-system-packages --root-user-action=ignore \
        ${PIP_FLAGS} . \
    && rm -rf /tmp/wheels build ./*.egg-info
COPY manage.py ./
COPY templates templates
COPY static static
# Under DEBUG=0 the manifest storage checks every file a stylesheet or script names.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && rm -f var/secret_key
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-b", "0.0.0.0:8000", "-w", "3"]
