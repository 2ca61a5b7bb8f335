"""Every write to stock. Other apps import from here: `from inventory.services import stock_sell`."""

from inventory.services.counts import (
    stock_count_cancel,
    stock_count_open,
    stock_count_post,
    stock_count_record,
)
from inventory.services.expiry import reservations_expire, reservations_warn_expiring
from inventory.services.low_stock import low_stock_check, stock_reorder_set
from inventory.services.reservations import (
    reservation_consume,
    reservation_extend,
    reservation_release,
    reservations_keep,
    stock_reserve,
)
from inventory.services.stock import (
    ReceiveLine,
    StockLine,
    stock_adjust,
    stock_receive,
    stock_return,
    stock_sell,
    stock_write_off,
)
from inventory.services.transfers import (
    TransferItem,
    transfer_approve,
    transfer_cancel,
    transfer_receive,
    transfer_request,
    transfer_ship,
)

__all__ = [
    "ReceiveLine",
    "StockLine",
    "TransferItem",
    "low_stock_check",
    "reservation_consume",
    "reservation_extend",
    "reservation_release",
    "reservations_expire",
    "reservations_keep",
    "reservations_warn_expiring",
    "stock_adjust",
    "stock_count_cancel",
    "stock_count_open",
    "stock_count_post",
    "stock_count_record",
    "stock_receive",
    "stock_reorder_set",
    "stock_reserve",
    "stock_return",
    "stock_sell",
    "stock_write_off",
    "transfer_approve",
    "transfer_cancel",
    "transfer_receive",
    "transfer_request",
    "transfer_ship",
]
