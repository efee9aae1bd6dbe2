"""Sign-in through the company's identity provider (django-allauth): config, admission, groups."""
