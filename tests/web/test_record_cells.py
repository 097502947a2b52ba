"""What a record list shows in a cell: a delivery not paid yet says nothing about how it was paid."""

from cooperatives.models import Delivery
from cooperatives.web.display import cell


def test_an_unpaid_delivery_shows_no_payment_method(app):
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert cell(Delivery(paid=False, paid_by="cash"), "paid_by") == ""
        assert cell(Delivery(paid=True, paid_by="cash"), "paid_by") not in ("", "cash")    # its label, in words
