# gpureport: the CLI, its templates and default schedules, and what WeasyPrint needs for PDFs.
#   docker build -t gpureport:0.1.0 .
#   docker run --rm gpureport:0.1.0 --help
#   docker run --rm -p 8001:8001 -e GPUREPORT_SERVER_TOKEN=... gpureport:0.1.0 serve --host 0.0.0.0
#     (the chat API, the web page at /ui and /metrics on port 8001; deployment.yaml)
# Runs as the unprivileged user 10001 (cronjob.yaml's securityContext expects it).
FROM python:3.11-slim-bookworm

# Pango/HarfBuzz for WeasyPrint, CJK and Latin fonts for the PDF, time zone data for schedules
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 \
      fonts-noto-cjk fonts-dejavu-core tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY reporter ./reporter
COPY templates ./templates
COPY schedules ./schedules
RUN pip install --no-cache-dir . \
 && rm -rf /src \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/gpureport --create-home gpureport

USER 10001:10001
WORKDIR /var/lib/gpureport
ENV GPUREPORT_HOME=/var/lib/gpureport \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

EXPOSE 8001
ENTRYPOINT ["gpureport"]
CMD ["--help"]
