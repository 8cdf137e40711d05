"""What every Corridor page does to what it is sent before a view hands the values to a service.

A view binds a Django form to the request and calls `form_checked`: the form comes back valid, with typed
`cleaned_data`, or the request is refused with one CorridorError (400) that names the first field that is wrong.
lms.errors turns that into the response (the page the form came from, with the message, when it says `next`).
"""

from __future__ import annotations

from typing import TypeVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext as _

from lms.errors import CorridorError

Form = TypeVar("Form", bound=forms.BaseForm)


def form_error(form: forms.BaseForm) -> str:
    """The form's first error, as one sentence that names its field (the form has been validated)."""
    name, errors = next(iter(form.errors.items()))
    message = str(errors[0])
    if name == NON_FIELD_ERRORS or name not in form.fields:
        return message
    label = form.fields[name].label or name
    return _("%(field)s: %(error)s") % {"field": label, "error": message}


def form_checked(form: Form, *, code: str) -> Form:
    """The form, valid; or a CorridorError with `code` and `form_error`'s message. Nothing has been written."""
    if not form.is_valid():
        raise CorridorError(code, form_error(form))
    return form
