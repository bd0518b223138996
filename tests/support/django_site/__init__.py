"""A Django project configured for qscookies through settings only.

Served by gunicorn (WSGI) and uvicorn (Django's ASGI handler) in
``tests/doors/test_django.py``; its environment says where Redis is, which
``SECRET_KEY`` (and fallbacks) it has, and extra ``QSCOOKIES`` entries.
"""
