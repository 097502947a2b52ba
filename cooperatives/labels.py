"""Human labels for record kinds and their columns (translated where shown)."""

from ledger.i18n import N_

RECORD_LABELS = {
    "capital": N_("Capital"), "land": N_("Land contracts"), "labor": N_("Labour days"),
    "deliveries": N_("Deliveries"), "inputs": N_("Inputs for members"), "sales": N_("Sales"),
    "expenses": N_("Expenses"), "subsidies": N_("Subsidies and donations"), "advances": N_("Advances"),
    "payments": N_("Payments"), "transfers": N_("Transfers between cash and bank"), "income": N_("Investment income"),
    "journal": N_("Vouchers"), "receipts": N_("Receipts against sales on credit"),
    "stock": N_("Year-end stock count"), "assets": N_("Fixed assets"), "shares": N_("Share register (份额登记簿)"),
}

COLUMN_LABELS = {
    "books_start": N_("Books start"), "account": N_("Account"), "debit": N_("Debit"), "credit": N_("Credit"),
    "code": N_("Code"), "name": N_("Name"), "kind": N_("Kind"), "township": N_("Township"), "village": N_("Village"),
    "credit_code": N_("Credit code"), "head_name": N_("Head of household"), "phone": N_("Phone"),
    "id_number": N_("ID number"), "bank_account": N_("Bank account"), "monitoring": N_("Monitoring category"),
    "poverty_exited": N_("Exited poverty"), "member": N_("Member"), "member_no": N_("Member no."),
    "joined_on": N_("Joined on"), "land_consent": N_("Consents to deductions from land income"), "left_on": N_("Left on"), "farmer": N_("Farmer"), "date": N_("Date"),
    "amount": N_("Amount (yuan)"), "form": N_("Form"), "note": N_("Note"), "contract_no": N_("Contract no."),
    "area_mu": N_("Area (mu)"), "shares": N_("Shares"), "base_rent_per_mu": N_("Base rent per mu"),
    "start_on": N_("Start"), "end_on": N_("End"), "worker": N_("Worker"), "days": N_("Days"),
    "rate": N_("Daily rate"), "task": N_("Task"), "product": N_("Product"), "grade": N_("Grade"),
    "quantity": N_("Quantity"), "unit": N_("Unit"), "unit_price": N_("Unit price"), "paid": N_("Paid"),
    "item": N_("Item"), "on_credit": N_("On credit"), "buyer": N_("Buyer"), "invoice_no": N_("Invoice no."),
    "category": N_("Category"), "payee": N_("Payee"), "source": N_("Source"), "quantify": N_("Quantify to members"),
    "poverty_asset": N_("Poverty-alleviation asset"), "method": N_("Method"), "reference": N_("Reference"), "paid_for": N_("Paid for"),
    "paid_by": N_("Paid by"), "value": N_("Value at cost (yuan)"), "from_account": N_("From"), "to_account": N_("To"),
    "project": N_("Subsidy project"), "acquired_on": N_("Acquired on"), "cost": N_("Cost (yuan)"),
    "life_years": N_("Useful life (years)"), "salvage_pct": N_("Salvage value (per cent of cost)"),
    "under_construction": N_("Under construction"), "in_use_on": N_("In use from"),
    "confirm": N_("Confirm (确认: recorded although it looks unusual)"),
    "from_member": N_("From member (inherited or transferred)"), "persons": N_("Household size (persons)"),
}
