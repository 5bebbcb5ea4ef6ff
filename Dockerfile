# The web and worker image for the full stack (docker-compose.yml). The sandbox image
# that runs candidates' code is a different, minimal one: sandbox/Dockerfile.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY quizbank quizbank
COPY accounts accounts
COPY learning learning
COPY interviews interviews
COPY grading grading
COPY sandbox sandbox
COPY lab lab
RUN pip install --no-cache-dir . 
COPY manage.py ./
COPY templates templates
COPY static static
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-b", "0.0.0.0:8000", "-w", "3"]
