from django.urls import path

from bench.floor import register, token, views

urlpatterns = [
    path("floor", views.floor),
    path("floor-sign", views.floor_sign),
    path("floor-sign-raw", views.floor_sign_raw),
    path("floor-register", register.floor_register),
    path("floor-token", token.floor_token),
    path("floor-redeem", token.floor_redeem),
    path("floor-introspect", token.floor_introspect),
]
